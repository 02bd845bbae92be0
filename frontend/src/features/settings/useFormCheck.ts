import { type FormEvent, useState } from "react";

/**
 * The checks a form makes before asking the server. `problem` (null when the form may be sent)
 * shows once the user has tried to submit, and follows every edit after that.
 */
export function useFormCheck(problem: string | null) {
  const [attempted, setAttempted] = useState(false);
  return {
    /** The problem to show: none before the first try. */
    shown: attempted ? problem : null,
    /** For onSubmit: stays on the page, and says whether the form may be sent. */
    submitted(event: FormEvent): boolean {
      event.preventDefault();
      setAttempted(true);
      return problem === null;
    },
    /** After a successful send: the emptied form is no mistake (yet). */
    sent: () => setAttempted(false),
  };
}
