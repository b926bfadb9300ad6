export declare const PRUNE_FIXTURE: { config: Record<string, number>; seed: number; ids: number[][] };
export declare function prunedFixtureModel<M>(lib: { GPT2: new (config: Record<string, number>, options: { seed: number }) => M; prune: (m: M, o: { amount: number; method: 'heads' | 'neurons'; scope?: 'global' | 'layer' }) => Promise<M> }, seed?: number): Promise<M>;
