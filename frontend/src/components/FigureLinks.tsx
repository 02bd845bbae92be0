/** Download links for a figure the server draws, one per vector format. */

export type FigureFormat = "svg" | "pdf";

const FORMATS: readonly FigureFormat[] = ["svg", "pdf"];

interface Props {
  /** The figure's address in the given format. */
  href: (format: FigureFormat) => string;
  /** Each link's data-testid is this followed by the format, e.g. "export-" → "export-svg". */
  testIdPrefix: string;
  /** Hover text for a link, if any. */
  title?: (format: FigureFormat) => string;
  /** The link's text; the format in capitals unless given. */
  label?: (format: FigureFormat) => string;
}

export function FigureLinks({ href, testIdPrefix, title, label }: Props) {
  return (
    <>
      {FORMATS.map((format) => (
        <a
          key={format}
          className="button-link"
          data-testid={`${testIdPrefix}${format}`}
          href={href(format)}
          title={title?.(format)}
          download
        >
          {label ? label(format) : format.toUpperCase()}
        </a>
      ))}
    </>
  );
}
