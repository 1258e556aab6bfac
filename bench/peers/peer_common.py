"""What the PyTorch peers of our step benchmarks share: the three ways a step runs (--mode),
the timing of steps on either device, and the rows they write.

Modes:
  eager       the step as the official code runs it.
  compile     the model's forward + loss through torch.compile (its backward is compiled with it by
              AOTAutograd); the optimizers and the α step's bookkeeping stay eager, as they would
              in the official scripts with `model = torch.compile(model)`.
  cuda-graph  the whole step (both optimizers included) captured once into one CUDA graph with
              static inputs, then replayed: PyTorch's documented whole-network capture. CUDA only.
A mode that cannot run on this machine or this step gives a row with its `reason` instead of a
time, so one run still records every mode."""
import argparse
import json
import resource
import statistics
import time
import traceback

import torch

MODES = ("eager", "compile", "cuda-graph")


def compiled(fn, mode):
    """`fn` as the mode runs it: through torch.compile in compile mode, else as it is."""
    return torch.compile(fn) if mode == "compile" else fn


def capture(step, warmups=3):
    """The whole `step` captured into one CUDA graph after `warmups` eager runs on a side stream
    (cuDNN's search, the optimizers' state and the allocator settle there first); returns the
    replay. Every tensor `step` reads must stay at the same address: its inputs are static."""
    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):
        for _ in range(warmups):
            step()
    torch.cuda.current_stream().wait_stream(side)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        step()
    return graph.replay


def time_steps(step, steps, device, warmups):
    """(ms of each timed step, peak MiB, device name). On a GPU all steps run between two CUDA
    events (the mean repeated per step) and the peak is the caching allocator's; on the CPU each
    step is timed with a steady clock and the peak is the process's resident memory."""
    for _ in range(warmups):
        step()
    if device == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        start, stop = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        for _ in range(steps):
            step()
        stop.record()
        torch.cuda.synchronize()
        ms = start.elapsed_time(stop) / steps
        return ([ms] * steps, torch.cuda.max_memory_allocated() / 1048576.0,
                torch.cuda.get_device_name())
    ms_steps = []
    for _ in range(steps):
        t0 = time.perf_counter()
        step()
        ms_steps.append((time.perf_counter() - t0) * 1000.0)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    return ms_steps, peak, f"CPU, {torch.get_num_threads()} threads"


def run_mode(build, mode, steps, device, row):
    """Times the step that `build(mode)` returns (a callable, after any capture) and fills `row`
    with mode, ms_per_step, ms_steps, peak_MiB, device and torch's version. A mode that fails
    (torch.compile without a compiler, a capture PyTorch refuses) leaves ms_per_step None and
    the error's last line in `reason`."""
    row.update({"mode": mode, "torch": torch.__version__, "ms_per_step": None, "reason": ""})
    try:
        step = build(mode)
        if mode == "cuda-graph":
            step = capture(step)
        # eager: cuDNN's search and the allocator; compile: the compilation itself.
        warmups = 3 if device == "cuda" or mode == "compile" else 1
        ms_steps, peak, name = time_steps(step, steps, device, warmups)
    except Exception as e:  # the reason is the row's result; the traceback goes to the log
        traceback.print_exc()
        lines = str(e).strip().splitlines()
        row["reason"] = f"{type(e).__name__}: {lines[-1] if lines else ''}"
        return row
    finally:
        torch._dynamo.reset()
    row.update({"ms_per_step": statistics.fmean(ms_steps), "ms_steps": ms_steps, "peak_MiB": peak,
                "device": name})
    return row


def describe(row, unit, per_step):
    """One printed line of a row."""
    head = f"pytorch {row['config']:9s} order {row['order']} {row['mode']:10s}"
    if row["ms_per_step"] is None:
        return f"{head} could not run: {row['reason']}"
    ms = row["ms_per_step"]
    return (f"{head} {ms:9.2f} ms/step {per_step * 1000.0 / ms:9.0f} {unit}  "
            f"peak {row['peak_MiB']:8.1f} MiB  params {row['params']}")


def peer_main(script, description, shapes, default_rows, default_steps, build_step, param_count,
              expected_params, unit, items_per_step, methods=None):
    """The command line both peers share: parses --rows/--modes/--device/--steps/--budget-s (and
    --method when `methods`, {name: its rows}, is given: the rows it runs unless --rows is),
    checks `param_count(name) == n` for each (name, n) in expected_params (the same network as
    ours), then runs every row of the first mode, then of the next (so a short budget still
    gives every row's eager time), rewriting --json after each row."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--steps", type=int, default=default_steps, help="timed steps per row")
    parser.add_argument("--json", default="", help="write the rows here (after every row)")
    parser.add_argument("--rows", default=None, help=f"CONFIG:ORDER,... (default: {default_rows})")
    if methods:
        parser.add_argument("--method", choices=list(methods), default=None,
                            help="the rows of a search method: " +
                                 "; ".join(f"{m}: {r}" for m, r in methods.items()))
    parser.add_argument("--modes", default="eager", help=f"comma-separated: {', '.join(MODES)}")
    parser.add_argument("--device", choices=("cuda", "cpu"), default="cuda")
    parser.add_argument("--budget-s", type=float, default=0,
                        help="start no row after this many seconds (0: no limit)")
    args = parser.parse_args()
    if args.rows and getattr(args, "method", None):
        raise SystemExit(f"{script}: give --rows or --method, not both")
    rows_spec = args.rows or (methods[args.method] if getattr(args, "method", None) else default_rows)
    if args.steps < 1:
        raise SystemExit(f"{script}: --steps must be at least 1, got {args.steps}")
    if args.budget_s < 0:
        raise SystemExit(f"{script}: --budget-s must be at least 0, got {args.budget_s}")
    modes = [m for m in args.modes.split(",") if m]
    bad = [m for m in modes if m not in MODES]
    if bad or not modes:
        raise SystemExit(f"{script}: --modes: bad mode '{','.join(bad) or args.modes}', expected "
                         f"a comma-separated list of {', '.join(MODES)}")
    wanted = []
    for spec in rows_spec.split(","):
        config, _, order = spec.partition(":")
        if config not in shapes or order not in ("1", "2"):
            raise SystemExit(f"{script}: --rows: bad row '{spec}', expected CONFIG:ORDER with "
                             f"CONFIG in {sorted(shapes)} and ORDER 1 or 2")
        wanted.append((config, int(order)))
    if args.device == "cuda" and not torch.cuda.is_available():
        raise SystemExit(f"{script}: no CUDA device (use --device cpu for the CPU step)")
    if args.device == "cpu" and "cuda-graph" in modes:
        raise SystemExit(f"{script}: --modes cuda-graph captures a CUDA graph and needs "
                         f"--device cuda")
    for name, n in expected_params:
        if param_count(name) != n:
            raise SystemExit(f"{script}: the {name} network has {param_count(name)} parameters, "
                             f"ours {n}: they must be the same network")
    torch.backends.cudnn.benchmark = True  # as the official search scripts
    start, rows = time.time(), []
    for mode in modes:
        for config, order in wanted:
            t0 = time.time()
            row = {"config": config, "order": order, "params": param_count(config)}
            if args.budget_s and t0 - start > args.budget_s:
                row.update({"mode": mode, "ms_per_step": None,
                            "reason": f"past the {args.budget_s:.0f} s budget"})
            else:
                run_mode(build_step(config, order, args.device), mode, args.steps, args.device, row)
            rows.append(row)
            print(f"{describe(row, unit, items_per_step(config))}  ({time.time() - t0:.0f} s)",
                  flush=True)
            if args.json:
                with open(args.json, "w") as f:
                    json.dump(rows, f, indent=1)
