#!/usr/bin/env python3
"""The CPU kernels' instruction-set variants (runtime/cpu_isa.h, kernels/cpu/isa.h) in the built
objects: the baseline twins use no AVX register, a variant's own functions do, and every symbol
the linker may take from any of several objects (weak and unique symbols: inline functions and
template instantiations, a copy in every translation unit) has the same code in a variant's
object as in the baseline object of the same file, or, where that object inlined it away, no
instruction beyond the x86-64 baseline. The linker keeps one copy; were a variant's
compiled for its level, baseline code would call AVX (or BMI) instructions on a CPU without them.

  test_cpu_variant_objects.py BUILD_DIR        (exit 77: objdump or nm missing)"""
import glob
import os
import re
import shutil
import subprocess
import sys

AVX_REGISTER = re.compile(r"%[yz]mm\d")


def disassembly(obj):
    """{function: its instructions without addresses} of `obj`."""
    out = subprocess.run(["objdump", "-d", "--no-show-raw-insn", obj], check=True,
                         capture_output=True, text=True).stdout
    code, name = {}, None
    for line in out.splitlines():
        header = re.match(r"^[0-9a-f]+ <(.+)>:$", line)
        if header:
            name = header.group(1)
            code[name] = []
        elif name and re.match(r"^\s+[0-9a-f]+:\t", line):
            # The instruction without objdump's comments (<label+offset>, # address): those
            # name whatever local label is near a relocation, which differs between objects.
            code[name].append(re.sub(r"\s*(<[^>]*>|#.*)$", "", line.split("\t", 1)[1]))
    return code


def uses_avx(instructions):
    return any(AVX_REGISTER.search(i) for i in instructions)


# Instructions beyond the x86-64 baseline: VEX/EVEX-encoded (v...), AVX-512 mask registers, BMI,
# LZCNT/TZCNT, MOVBE, POPCNT.
BEYOND_BASELINE = re.compile(r"^(v\w+|k\w+|andn|bextr|blsi|blsmsk|blsr|bzhi|mulx|pdep|pext|rorx|"
                             r"sarx|shlx|shrx|lzcnt|tzcnt|movbe|popcnt)\b|%[yz]mm\d|%k[0-7]")


def beyond_baseline(instructions):
    return any(BEYOND_BASELINE.search(i) for i in instructions)


def shared_symbols(obj):
    """Defined symbols the linker may take from another object: weak (W, V) and unique (u)."""
    out = subprocess.run(["nm", "--defined-only", obj], check=True, capture_output=True,
                         text=True).stdout
    return {f[2] for f in (line.split() for line in out.splitlines()) if len(f) == 3 and f[1] in "WVu"}


def main():
    if not shutil.which("objdump") or not shutil.which("nm"):
        print("objdump or nm missing: skipped")
        return 77
    dirs = os.path.join(sys.argv[1], "kernels", "CMakeFiles")
    baseline = sorted(glob.glob(os.path.join(dirs, "autonet_kernels.dir", "cpu", "*.o")))
    variants = sorted(glob.glob(os.path.join(dirs, "autonet_kernels_cpu_v*.dir", "cpu", "*.o")))
    if not baseline or not variants:
        print(f"no baseline ({len(baseline)}) or variant ({len(variants)}) objects under {dirs}")
        return 1
    failures, variant_avx = [], 0
    baseline_code = {os.path.basename(obj): disassembly(obj) for obj in baseline}
    for name, code in baseline_code.items():
        for function, instructions in sorted(code.items()):
            if uses_avx(instructions):
                failures.append(f"baseline {name}: {function} uses AVX registers")
    for obj in variants:
        code = disassembly(obj)
        variant_avx += sum(uses_avx(i) for i in code.values())
        own = baseline_code.get(os.path.basename(obj), {})
        for symbol in sorted(shared_symbols(obj)):
            if re.search(r"x86_64_v\d", symbol) or symbol not in code:
                continue  # the variant's own namespace (no other object defines it), or data
            if symbol in own:  # the same file's baseline object has a copy: it must be this one
                if code[symbol] != own[symbol]:
                    failures.append(f"{os.path.relpath(obj, dirs)}: shared symbol {symbol} "
                                    "differs from the baseline object's copy")
            elif beyond_baseline(code[symbol]):  # inlined away there: it must be baseline code
                failures.append(f"{os.path.relpath(obj, dirs)}: shared symbol {symbol} uses "
                                "instructions beyond the x86-64 baseline")
    if variant_avx == 0:
        failures.append("no variant function uses AVX registers: the variants are baseline code")
    for f in failures:
        print(f)
    print(f"{len(baseline)} baseline and {len(variants)} variant objects, {variant_avx} variant "
          f"functions with AVX, {len(failures)} problems")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
