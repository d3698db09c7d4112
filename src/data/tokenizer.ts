// Penn-Treebank-like tokenizer for raw text (sentences that come without a parse, e.g. at
// prediction time). The goal is to produce the same tokens that the SNLI/MultiNLI binary parses
// contain (they were tokenized by the Stanford PTB tokenizer), so that a sentence typed by a user
// meets the same vocabulary as the training data:
//   - punctuation split off ("dog." → "dog ."; commas and colons except inside numbers "1,000"),
//     a final period split off but abbreviations inside the sentence kept ("Mr. Smith"),
//   - clitics split ("don't" → "do n't", "man's" → "man 's", "we'll" → "we 'll"),
//     "cannot" → "can not", "gonna" → "gon na" and the other PTB contractions,
//   - double quotes become `` and '' (opening and closing), curly quotes are normalised first,
//   - with `ptbEscapes` (default), brackets become -LRB- -RRB- -LSB- -RSB- -LCB- -RCB- as in the
//     parses (a literal "(" cannot appear as a token there: it is tree structure),
//   - hyphenated words stay whole ("middle-aged"), as in the Stanford tokenizer.
// The rules follow the classic PTB sed script (as also used by NLTK's TreebankWordTokenizer).

export interface TokenizeOptions {
  /** Lowercase every token (default false; a lowercasing {@link Vocabulary} lowercases anyway). */
  lowercase?: boolean;
  /** Replace brackets by PTB escapes such as -LRB- (default true). */
  ptbEscapes?: boolean;
}

type Rule = readonly [RegExp, string];

const NORMALIZE: Rule[] = [
  [/[\u201c\u201d\u201e\u00ab\u00bb]/g, '"'],
  [/[\u2018\u2019\u201a]/g, "'"],
  [/\u2026/g, "..."],
  [/[\u2013\u2014]/g, "--"],
];

const STARTING_QUOTES: Rule[] = [
  [/^"/, "`` "],
  [/(``)/g, " $1 "],
  [/([ ([{<])("|'{2})/g, "$1 `` "],
];

const PUNCTUATION: Rule[] = [
  [/([:,])([^\d])/g, " $1 $2"],
  [/([:,])$/g, " $1 "],
  [/\.\.\./g, " ... "],
  [/[;@#$%&]/g, " $& "],
  // A final period (possibly followed by closing brackets or quotes); inner periods stay attached.
  [/([^.])(\.)([\])}>"']*)\s*$/g, "$1 $2$3 "],
  [/[?!]/g, " $& "],
  [/([^'])' /g, "$1 ' "],
];

const BRACKETS: Rule[] = [
  [/[\][(){}<>]/g, " $& "],
  [/--/g, " -- "],
];

const ENDING_QUOTES: Rule[] = [
  [/"/g, " '' "],
  [/(\S)('')/g, "$1 $2 "],
  [/([^' ])('[sS]|'[mM]|'[dD]|') /g, "$1 $2 "],
  [/([^' ])('ll|'LL|'re|'RE|'ve|'VE|n't|N'T) /g, "$1 $2 "],
];

const CONTRACTIONS: Rule[] = [
  [/\b(can)(not)\b/gi, " $1 $2 "],
  [/\b(d)('ye)\b/gi, " $1 $2 "],
  [/\b(gim)(me)\b/gi, " $1 $2 "],
  [/\b(gon)(na)\b/gi, " $1 $2 "],
  [/\b(got)(ta)\b/gi, " $1 $2 "],
  [/\b(lem)(me)\b/gi, " $1 $2 "],
  [/\b(more)('n)\b/gi, " $1 $2 "],
  [/\b(wan)(na)(?=\s)/gi, " $1 $2 "],
  [/ ('t)(is)\b/gi, " $1 $2 "],
  [/ ('t)(was)\b/gi, " $1 $2 "],
];

const ESCAPES: Record<string, string> = {
  "(": "-LRB-",
  ")": "-RRB-",
  "[": "-LSB-",
  "]": "-RSB-",
  "{": "-LCB-",
  "}": "-RCB-",
};

function apply(text: string, rules: readonly Rule[]): string {
  for (const [pattern, replacement] of rules) text = text.replace(pattern, replacement);
  return text;
}

/** Splits raw text into PTB-style tokens. Whitespace-only input gives an empty array. */
export function tokenize(text: string, options: TokenizeOptions = {}): string[] {
  const { lowercase = false, ptbEscapes = true } = options;
  let s = apply(text.trim(), NORMALIZE);
  s = apply(s, STARTING_QUOTES);
  s = apply(s, PUNCTUATION);
  s = apply(s, BRACKETS);
  s = apply(` ${s} `, ENDING_QUOTES);
  s = apply(s, CONTRACTIONS);
  let tokens = s.split(/\s+/).filter((t) => t.length > 0);
  if (ptbEscapes) tokens = tokens.map((t) => ESCAPES[t] ?? t);
  if (lowercase) tokens = tokens.map((t) => t.toLowerCase());
  return tokens;
}
