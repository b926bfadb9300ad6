/**
 * Reverse-mode autograd on a tape, micrograd style: each op attaches a Node
 * holding its backward closure (written beside the forward, as ops on
 * tensors) and the tensors it saved; `backward()` walks the nodes in reverse
 * topological order.
 *
 * Lifetime: a node is refcounted by the tensor it produced and by the nodes
 * that consumed that tensor, so disposing the last tensor of a graph frees
 * the whole graph deterministically. Saved tensors are handles of their own
 * (they keep storage alive even if the user disposes the original) and are
 * freed after `backward()` unless `retainGraph` is set.
 */

import { ShapeError, fmtShape } from '@tessera/core';
import { AutogradError } from './errors.js';
import { addSameShape, backendOf, copyContiguous, empty, strided, dense, broadcastOperand } from './kernels.js';
import { isGradEnabled, noGrad } from './mode.js';
import { keep, tidy } from './scope.js';
import type { Tensor } from './tensor.js';

export { isGradEnabled, noGrad };

/** True when an op on `inputs` would record a node. */
export function recording(...inputs: readonly (Tensor | null | undefined)[]): boolean {
  return isGradEnabled() && inputs.some((x) => x?.requiresGrad);
}

/** Gradients for each input of a node (null where an input gets none). */
export type BackwardFn = (g: Tensor) => readonly (Tensor | null | undefined)[];
/** Makes an untracked handle on `t` that the node keeps until it is freed. */
export type Saver = (t: Tensor) => Tensor;

/** Where a node sends each input's gradient: another node, a leaf tensor, or nowhere. */
type Edge = Node | Tensor | null;

interface Saved {
  t: Tensor;
  version: number;
}

/** One recorded op: its backward closure, saved tensors and input edges. */
export class Node {
  refs = 0;
  /** Saved tensors were released (after a backward without retainGraph). */
  freed = false;

  constructor(
    readonly name: string,
    public edges: Edge[],
    public fn: BackwardFn | null,
    public saved: Saved[],
  ) {}

  /** Drops one reference; at zero, frees this node and releases its inputs (iteratively: graphs can be deep). */
  release(): void {
    const work: Node[] = [this];
    while (work.length > 0) {
      const n = work.pop()!;
      if (--n.refs > 0) continue;
      n.freeSaved();
      for (const e of n.edges) if (e instanceof Node) work.push(e);
      n.edges = [];
    }
  }

  freeSaved(): void {
    for (const s of this.saved) s.t.dispose();
    this.saved = [];
    this.fn = null;
    this.freed = true;
  }
}

/**
 * Records `out = op(inputs)` when gradients are on and some input requires
 * them. `make` receives a `save` function and returns the backward closure;
 * it only runs when a node is recorded.
 */
export function attachGrad(
  name: string,
  out: Tensor,
  inputs: readonly (Tensor | null | undefined)[],
  make: (save: Saver, needs: readonly boolean[]) => BackwardFn,
): Tensor {
  if (!isGradEnabled()) return out;
  let needed = false;
  for (const x of inputs) if (x && x.requiresGrad) needed = true;
  if (!needed) return out;
  const saved: Saved[] = [];
  const save: Saver = (t) => {
    const h = t._alias(false);
    saved.push({ t: h, version: h._ref.version });
    return h;
  };
  const edges: Edge[] = inputs.map((x) => (!x || !x.requiresGrad ? null : (x.gradFn ?? x)));
  const fn = make(save, edges.map((e) => e !== null));
  for (const e of edges) if (e instanceof Node) e.refs++;
  out._setGradFn(new Node(name, edges, fn, saved));
  return out;
}

/** Reverse topological order of the nodes reachable from `root` (iterative DFS). */
function topoOrder(root: Node): Node[] {
  const post: Node[] = [];
  const seen = new Set<Node>([root]);
  const stack: [Node, number][] = [[root, 0]];
  while (stack.length > 0) {
    const top = stack[stack.length - 1];
    const [n, i] = top;
    if (i < n.edges.length) {
      top[1]++;
      const e = n.edges[i];
      if (e instanceof Node && !seen.has(e)) {
        seen.add(e);
        stack.push([e, 0]);
      }
    } else {
      stack.pop();
      post.push(n);
    }
  }
  return post.reverse();
}

/** Options for `backward`. */
export interface BackwardOptions {
  /** Keep saved tensors so backward can run through this graph again. */
  retainGraph?: boolean;
}

/** A tensor handle nobody else views: safe to adopt as a `.grad` and update in place. */
function exclusive(t: Tensor): boolean {
  return t._ref.refs === 1 && t.offset === 0 && t.isContiguous();
}

function checkLeafGrad(leaf: Tensor, g: Tensor, from: string): void {
  if (g.shape.length !== leaf.shape.length || g.shape.some((d, i) => d !== leaf.shape[i])) {
    throw new ShapeError(`backward: ${from} produced a gradient of shape ${fmtShape(g.shape)} for a tensor of shape ${fmtShape(leaf.shape)}`);
  }
}

function accumulateLeaf(leaf: Tensor, g: Tensor, owned: Set<Tensor>, from: string): void {
  if (leaf.isDisposed) return;
  checkLeafGrad(leaf, g, from);
  const cur = leaf._grad;
  if (cur && !cur.isDisposed) {
    // .grad is exclusively owned by its leaf, so it is updated in place.
    const be = backendOf('backward', cur, g);
    if (cur.size > 0) be.binary({ op: 'add', a: strided(cur), b: broadcastOperand(g, cur.shape), out: dense(cur), shape: cur.shape });
    cur._ref.version++;
    return;
  }
  let adopt: Tensor;
  if (owned.has(g) && exclusive(g)) {
    owned.delete(g);
    adopt = g;
  } else {
    adopt = copyContiguous(g);
  }
  leaf._grad = keep(adopt);
}

/** Runs reverse-mode differentiation from `root`; see `Tensor.backward`. */
export function runBackward(root: Tensor, gradOutput: Tensor | undefined, options: BackwardOptions = {}): void {
  root._assertLive('backward');
  if (!root.requiresGrad) {
    throw new AutogradError(
      `backward: the tensor of shape ${fmtShape(root.shape)} does not require grad; create a leaf with { requiresGrad: true } or compute it from one (and not inside noGrad)`,
    );
  }
  if (gradOutput === undefined && root.size !== 1) {
    throw new ShapeError(
      `backward: the output has shape ${fmtShape(root.shape)} (${root.size} elements); a gradient is implicit only for a single-element output, so pass one, e.g. y.backward(onesLike(y))`,
    );
  }
  if (gradOutput !== undefined) {
    gradOutput._assertLive('backward gradient');
    if (gradOutput.dtype !== 'f32' || gradOutput.shape.length !== root.shape.length || gradOutput.shape.some((d, i) => d !== root.shape[i])) {
      throw new ShapeError(`backward: gradient of shape ${fmtShape(gradOutput.shape)} (${gradOutput.dtype}) does not match the output of shape ${fmtShape(root.shape)} (f32)`);
    }
  }
  const retain = options.retainGraph ?? false;
  const rootNode = root.gradFn;
  const order = rootNode ? topoOrder(rootNode) : [];
  for (const n of order) {
    if (n.freed) {
      throw new AutogradError(
        `backward: the graph through ${n.name} was already freed by an earlier backward(); pass { retainGraph: true } to the first backward to run it again`,
      );
    }
    for (const s of n.saved) {
      if (s.t._ref.version !== s.version) {
        throw new AutogradError(
          `backward: a tensor of shape ${fmtShape(s.t.shape)} saved by ${n.name} for the gradient was modified in place after it was saved (version ${s.t._ref.version}, saved at ${s.version})`,
        );
      }
    }
  }
  noGrad(() => {
    // Everything made here (seed gradient, partial sums, closure results) is freed when
    // this scope closes; only the adopted `.grad` tensors are kept.
    tidy(() => {
      const be = backendOf('backward', root);
      let g0: Tensor;
      if (gradOutput) g0 = gradOutput._alias(true);
      else {
        g0 = empty(be, root.shape, 'f32');
        be.fill({ out: dense(g0), n: 1, value: 1, dtype: 'f32' });
      }
      if (!rootNode) {
        accumulateLeaf(root, g0, new Set([g0]), 'backward');
        return;
      }
      const pending = new Map<Node, Tensor>([[rootNode, g0]]);
      // Leaf gradients are summed here and written to the leaves' .grad only once the whole
      // graph has run: a backward closure that throws part way leaves every .grad as it was
      // (and this scope frees the staged sums).
      const staged = new Map<Tensor, { g: Tensor; from: string }>();
      for (const node of order) {
        const g = pending.get(node);
        pending.delete(node);
        const fn = node.fn;
        if (!g || !fn) {
          if (!retain) node.freeSaved();
          continue;
        }
        const outs = tidy(() => fn(g));
        if (outs.length !== node.edges.length) {
          throw new AutogradError(`backward: ${node.name} returned ${outs.length} gradients for ${node.edges.length} inputs`);
        }
        const owned = new Set<Tensor>([g]);
        for (const o of outs) if (o) owned.add(o);
        // Interior edges first: their handles raise refcounts, so the leaf pass below
        // adopts a gradient only when no other consumer shares its storage.
        node.edges.forEach((e, i) => {
          const gi = outs[i];
          if (!(e instanceof Node) || !gi) return;
          const h = gi._alias(true);
          const acc = pending.get(e);
          if (acc) {
            pending.set(e, addSameShape(acc, h));
            acc.dispose();
            h.dispose();
          } else pending.set(e, h);
        });
        node.edges.forEach((e, i) => {
          const gi = outs[i];
          if (e === null || e instanceof Node || !gi || e.isDisposed) return;
          checkLeafGrad(e, gi, node.name);
          const prev = staged.get(e);
          if (prev) {
            staged.set(e, { g: addSameShape(prev.g, gi), from: node.name });
            prev.g.dispose();
          } else staged.set(e, { g: gi._alias(true), from: node.name });
        });
        for (const t of owned) t.dispose();
        if (!retain) node.freeSaved();
      }
      for (const [leaf, { g, from }] of staged) accumulateLeaf(leaf, g, new Set([g]), from);
    });
  });
}

/**
 * Clears the gradients of `params`: drops them (`setToNone`, default, so the
 * next backward allocates fresh ones) or fills them with zeros.
 * @example zeroGrad(model.parameters());
 */
export function zeroGrad(params: Iterable<Tensor>, setToNone = true): void {
  for (const p of params) p.zeroGrad(setToNone);
}
