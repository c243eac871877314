/** Quotes `s` for a POSIX shell (left as is when it needs no quoting), for the replay lines failures print. */
export const shellQuote = (s: string): string => (/^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`);
