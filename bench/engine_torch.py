#!/usr/bin/env python3
"""PyTorch side of `npm run bench:engine`: the same measurements as bench/engine.ts, printed as
one JSON line, so both run on the same machine in the same run (Debian's python3-torch)."""
import json, sys, time
import torch

def timed(fn, reps, warmup=3):
    for _ in range(warmup):
        fn()
    t = time.perf_counter()
    for _ in range(reps):
        fn()
    return (time.perf_counter() - t) / reps

def main():
    threads = int(sys.argv[1])
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    out = {"torch": torch.__version__, "threads": torch.get_num_threads()}
    one = torch.ones(1)
    out["op_call_us"] = timed(lambda: one.neg(), 100000, 1000) * 1e6
    for m, k, n in [(128, 300, 1500), (256, 900, 256)]:
        a, b = torch.randn(m, k), torch.randn(k, n)
        s = timed(lambda: torch.mm(a, b), 200, 20)
        out[f"matmul_{m}x{k}x{n}_gflops"] = 2 * m * k * n / s / 1e9
    x = torch.randn(128, 300)
    w = torch.randn(300, 1500, requires_grad=True)
    def fwd_bwd():
        w.grad = None
        torch.tanh(x @ w).sum().backward()
    out["tanh_matmul_fwd_bwd_ms"] = timed(fwd_bwd, 100, 10) * 1e3
    R, H, rows = 24, 128, 2048
    memory = torch.randn(rows, 2 * H)
    gates = torch.randn(R, 5 * H)
    pick = lambda offset: torch.tensor([offset + 37 * k for k in range(R)])
    left, right, written = pick(1), pick(2), pick(3)
    def tree_cell():
        a, i, f1, f2, o = gates.chunk(5, 1)
        c = a.tanh() * i.sigmoid() + f1.sigmoid() * memory[left, H:] + f2.sigmoid() * memory[right, H:]
        memory.index_copy_(0, written, torch.cat([o.sigmoid() * c.tanh(), c], 1))
    with torch.no_grad():
        out["tree_cell_in_memory_us"] = timed(tree_cell, 20000, 200) * 1e6
    print(json.dumps(out))

main()
