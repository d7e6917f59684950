/**
 * PEM text split into its blocks (RFC 7468), so that what is published can be limited to what is
 * meant to be public: /ca.pem serves the CERTIFICATE blocks of --ca-file and nothing else, even
 * when that file is a bundle that also holds a private key. Pure: text in, text out.
 */
export interface PemBlock {
  /** The label between "BEGIN " and the dashes: CERTIFICATE, PRIVATE KEY, EC PARAMETERS, ... */
  label: string;
  /** The whole block, BEGIN and END lines included, with "\n" line ends. */
  text: string;
}

const BEGIN = /^-----BEGIN ([A-Z0-9 ]+)-----$/;

/**
 * Every complete block, in file order, read line by line. Text outside blocks (comments, the "Bag
 * Attributes" openssl pkcs12 writes) is dropped; a BEGIN without its END is not a block, and a
 * BEGIN inside a block restarts there, so a damaged block cannot swallow the next one.
 */
export function splitPem(pem: Buffer | string): PemBlock[] {
  const text = typeof pem === 'string' ? pem : pem.toString('utf8');
  const blocks: PemBlock[] = [];
  let open: { label: string; lines: string[] } | undefined;
  for (const line of text.split(/\r?\n/).map((l) => l.trim())) {
    const begin = BEGIN.exec(line);
    if (begin) {
      open = { label: begin[1], lines: [line] };
    } else if (open && line === `-----END ${open.label}-----`) {
      blocks.push({ label: open.label, text: [...open.lines, line].join('\n') });
      open = undefined;
    } else if (open && line !== '') {
      open.lines.push(line);
    }
  }
  return blocks;
}

/** Labels of the blocks that are not certificates (e.g. ['PRIVATE KEY']), for a warning. */
export function otherLabels(pem: Buffer | string): string[] {
  return splitPem(pem)
    .map((block) => block.label)
    .filter((label) => label !== 'CERTIFICATE');
}
