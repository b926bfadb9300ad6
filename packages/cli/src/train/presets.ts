/** Model-size presets of `tessera train` (GPT-2 architecture; every value can be overridden by a flag). */

/** The architecture and batch shape a preset fixes. */
export interface Preset {
  readonly layers: number;
  readonly heads: number;
  readonly embd: number;
  /** Context length (n_positions). */
  readonly context: number;
  readonly batch: number;
  /** A learning rate that suits the size. */
  readonly lr: number;
  readonly description: string;
}

export const PRESETS = {
  tiny: { layers: 1, heads: 2, embd: 32, context: 32, batch: 8, lr: 3e-3, description: 'smoke tests: seconds per hundred steps' },
  small: { layers: 2, heads: 4, embd: 128, context: 64, batch: 32, lr: 4e-3, description: 'the demo: a character model in a few minutes on a laptop CPU' },
  medium: { layers: 4, heads: 4, embd: 256, context: 128, batch: 32, lr: 1e-3, description: 'about 3M parameters' },
  large: { layers: 6, heads: 6, embd: 384, context: 256, batch: 32, lr: 6e-4, description: "about 11M parameters (nanoGPT's Shakespeare-char size)" },
  gpt2: { layers: 12, heads: 12, embd: 768, context: 1024, batch: 8, lr: 6e-4, description: 'GPT-2 124M architecture' },
} as const satisfies Record<string, Preset>;

export type PresetName = keyof typeof PRESETS;
export const PRESET_NAMES = Object.keys(PRESETS) as PresetName[];
