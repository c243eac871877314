/**
 * The certificate policy variables of an mTLS connection (`${iot:Certificate.Subject.CommonName}` and the
 * others AWS lists for X.509 client certificates, aws-iot-behaviour.md §6.1), read from the client
 * certificate with Node's X509Certificate, once, when a policy first asks.
 */
import { X509Certificate } from 'node:crypto';

/** Distinguished-name attributes as OpenSSL prints them → AWS's variable names. */
const NAME_ATTRIBUTES: Record<string, string> = {
  C: 'Country',
  O: 'Organization',
  OU: 'OrganizationalUnit',
  dnQualifier: 'DistinguishedNameQualifier',
  ST: 'State',
  CN: 'CommonName',
  serialNumber: 'SerialNumber',
  title: 'Title',
  SN: 'Surname',
  GN: 'GivenName',
  initials: 'Initials',
  pseudonym: 'Pseudonym',
  generationQualifier: 'GenerationQualifier',
};

/** Subject alternative name kinds as Node prints them → AWS's variable names. */
const ALT_NAMES: Record<string, string> = {
  DNS: 'DNSName',
  email: 'RFC822Name',
  URI: 'UniformResourceIdentifier',
  'IP Address': 'IPAddress',
  DirName: 'DirectoryName',
};

function names(prefix: string, text: string | undefined, out: Record<string, string>): void {
  for (const line of (text ?? '').split('\n')) {
    const eq = line.indexOf('=');
    const name = NAME_ATTRIBUTES[line.slice(0, eq)];
    if (eq > 0 && name !== undefined) out[`${prefix}.${name}`] ??= line.slice(eq + 1);
  }
}

/**
 * The variables after `iot:Certificate.` of a DER certificate: `Subject.CommonName`, `Issuer.Organization`,
 * `SubjectAlternativeName.DNSName`, `SerialNumber` (decimal), `Validity.NotBefore`/`NotAfter` (ISO 8601).
 * Multi-valued fields give their first value. Empty for something that does not parse.
 */
export function certificateVariables(der: Uint8Array): Record<string, string> {
  const out: Record<string, string> = {};
  let certificate: X509Certificate;
  try {
    certificate = new X509Certificate(der);
  } catch {
    return out;
  }
  names('Subject', certificate.subject, out);
  names('Issuer', certificate.issuer, out);
  for (const part of (certificate.subjectAltName ?? '').split(', ')) {
    const colon = part.indexOf(':');
    const name = ALT_NAMES[part.slice(0, colon)];
    if (colon > 0 && name !== undefined) out[`SubjectAlternativeName.${name}`] ??= part.slice(colon + 1);
  }
  out.SerialNumber = BigInt(`0x${certificate.serialNumber}`).toString();
  out['Validity.NotBefore'] = new Date(certificate.validFrom).toISOString();
  out['Validity.NotAfter'] = new Date(certificate.validTo).toISOString();
  return out;
}
