/** Update requests AWS's Device Shadow service refuses, with the code and the exact message (aws-iot-behaviour.md §4.4). */

/** An object nested `n` levels below its top (a leaf at the bottom). */
export const deep = (n: number): object => (n === 0 ? { leaf: 1 } : { x: deep(n - 1) });

export const SHADOW_UPDATE_ERRORS: [string, unknown, number, string][] = [
  ['not JSON', '{"state":', 400, 'Invalid JSON'],
  ['JSON that is not an object', '[1]', 400, 'Invalid JSON'],
  ['no state', { other: 1 }, 400, 'Missing required node: state'],
  ['state not an object', { state: 5 }, 400, 'State node must be an object'],
  ['state with another node', { state: { desired: {}, wanted: {} } }, 400, 'State contains an invalid node'],
  ['desired not an object', { state: { desired: [1] } }, 400, 'Desired node must be an object'],
  ['reported not an object', { state: { reported: 'on' } }, 400, 'Reported node must be an object'],
  ['a version that is not a whole number', { state: { reported: {} }, version: 'one' }, 400, 'Invalid version'],
  ['a clientToken over 64 bytes', { state: { reported: {} }, clientToken: 'x'.repeat(65) }, 400, 'Invalid clientToken'],
  ['7 levels under reported', { state: { reported: deep(6) } }, 400, 'JSON contains too many levels of nesting; maximum is 6'],
  ['an array holding null', { state: { reported: { list: [1, null] } } }, 400, 'Invalid JSON'],
  ['a document over 8 KB', { state: { reported: { blob: 'x'.repeat(8200) } } }, 413, 'The payload exceeds the maximum size allowed'],
  ['the wrong version', { state: { reported: {} }, version: 7 }, 409, 'Version conflict'],
  ['bytes that are not UTF-8', Buffer.from([0x7b, 0xff, 0x7d]), 415, 'Unsupported documented encoding; supported encoding is UTF-8'],
];
