/** A stack of pre-LN Transformer blocks with a final LayerNorm. */

import { ArgumentError } from '@tessera/core';
import { tidy, type Tensor } from '@tessera/tensor';
import { deriveSeed } from './init.js';
import { LayerNorm } from './layer-norm.js';
import { checkPositiveInt } from './linear.js';
import { checkParameterBudget, transformerBlockParameters } from './size.js';
import { Module } from './module.js';
import { ModuleList } from './module-list.js';
import { TransformerBlock, type TransformerBlockOptions } from './transformer-block.js';

/**
 * `numLayers` TransformerBlocks (bidirectional unless `causal`) followed by a
 * LayerNorm, as pre-LN stacks need: [B, T, C] -> [B, T, C].
 * @example const enc = new TransformerEncoder(2, { dModel: 64, numHeads: 4 }); enc.forward(x, { paddingMask })
 */
export class TransformerEncoder extends Module {
  readonly layers: ModuleList<TransformerBlock>;
  readonly norm: LayerNorm;

  constructor(
    readonly numLayers: number,
    options: TransformerBlockOptions,
  ) {
    super();
    checkPositiveInt('TransformerEncoder', 'numLayers', numLayers);
    checkPositiveInt('TransformerEncoder', 'dModel', options.dModel);
    const dFF = options.dFF ?? 4 * options.dModel;
    checkPositiveInt('TransformerEncoder', 'dFF', dFF);
    // Checked before any block allocates, so a refusal leaks nothing.
    checkPositiveInt('TransformerEncoder', 'numHeads', options.numHeads);
    if (options.dModel % options.numHeads !== 0) throw new ArgumentError(`TransformerEncoder: dModel ${options.dModel} must be divisible by numHeads ${options.numHeads}`);
    checkParameterBudget(
      'TransformerEncoder',
      { numLayers, dModel: options.dModel, dFF },
      (s) => s.numLayers * transformerBlockParameters(s.dModel, s.dFF) + 2 * s.dModel,
      { numLayers: 12, dModel: 768, dFF: 3072 },
    );
    const blocks: TransformerBlock[] = [];
    for (let i = 0; i < numLayers; i++) blocks.push(new TransformerBlock({ ...options, seed: deriveSeed(options.seed, i) }));
    this.layers = this.registerModule('layers', new ModuleList(blocks));
    this.norm = this.registerModule('norm', new LayerNorm(options.dModel, { factory: options.factory, init: options.init, eps: options.eps }));
  }

  forward(x: Tensor, options: { paddingMask?: Tensor | null } = {}): Tensor {
    return tidy(() => {
      let h = x;
      for (const layer of this.layers) h = layer.forward(h, options);
      return this.norm.forward(h);
    });
  }
}
