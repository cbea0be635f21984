"""Which kernels PyTorch runs on this CPU, for the parity tests' bounds.

The shared fixtures were recorded on AVX2 CPUs, one thread. On a CPU with AVX-512, PyTorch's own
kernels (ATen's), oneDNN's convolutions and MKL's matrix products run their AVX-512 variants, which
sum the same float32 terms in another order: outputs move by a few units in the last place, as the
fixtures' READMEs record for the originals run with 2 threads instead of 1. Limiting the three
libraries to AVX2 (``ATEN_CPU_CAPABILITY``, ``ONEDNN_MAX_CPU_ISA``, ``MKL_ENABLE_INSTRUCTIONS``) does
not give the AVX2 machines' bits back, so the parity tests widen their bounds there, to the spread
the fixtures document, and each says by how much.
"""

import torch

CAPABILITY = torch.backends.cpu.get_cpu_capability()  # "AVX2", "AVX512", "DEFAULT", ...
FIXTURE_KERNELS = CAPABILITY in ("AVX2", "DEFAULT")  # the kernels the fixtures were recorded with
