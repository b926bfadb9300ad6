/** The model behind test/fixtures/pruned-gpt2 (shared by the fixture maker and the test). */


export const PRUNE_FIXTURE = {
  config: { vocab_size: 64, n_positions: 32, n_embd: 32, n_layer: 2, n_head: 4, resid_pdrop: 0, embd_pdrop: 0, attn_pdrop: 0 },
  seed: 21,
  ids: [
    [5, 17, 42, 3, 60, 9, 33],
    [1, 2, 63, 0, 11, 28, 47],
  ],
};

/**
 * The seeded GPT-2 pruned: 25% of heads (global), then 25% of MLP units. `lib` is the
 * package's GPT2 and prune (the built package here, the sources in the test).
 */
export async function prunedFixtureModel({ GPT2, prune }, seed = PRUNE_FIXTURE.seed) {
  const dense = new GPT2(PRUNE_FIXTURE.config, { seed });
  const heads = await prune(dense, { amount: 0.25, method: 'heads', scope: 'global' });
  const both = await prune(heads, { amount: 0.25, method: 'neurons' });
  dense.dispose();
  heads.dispose();
  return both;
}
