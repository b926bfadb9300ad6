/** What every Tessera tokenizer offers. */
export interface Tokenizer {
  /** Number of ids: every id is in `[0, vocabSize)`. */
  readonly vocabSize: number;
  /** Id of the end-of-text token, when the vocabulary has one. */
  readonly eosTokenId: number | undefined;
  /** Text to token ids. */
  encode(text: string): number[];
  /** Token ids to text. */
  decode(ids: Iterable<number>): string;
}
