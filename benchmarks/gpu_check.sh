#!/usr/bin/env bash
# The project's GPU code paths, once, on a CUDA machine with no Hub (see benchmarks/GPU.md):
#   1. student training under `accelerate launch` (multi_gpu.yaml, 1 process, bf16): the module as shipped
#      (eval, checkpoints, best model, card), then benchmarks/gpu_train.py (the same main() with a step clock)
#      for steady-state tokens/s and torch's peak memory, bf16 and fp32;
#   2. inference with the trained student on CUDA (benchmarks/gpu_explain.py).
# Needs, in the repo root: .gpu/dataset (python benchmarks/gpu_data.py) and, where trl/datasets/... are not
# installed, their wheels in .whl (see GPU.md). Logs and figures go to $OUT (default .gpu/out).
#
#   bash benchmarks/gpu_check.sh
# Dry run on CPU (tiny model, few steps):
#   ACCEL_CONFIG=recipes/accelerate_configs/cpu.yaml STEPS_A=4 STEPS_B=3 SCRATCH="--scratch_n_layer 2 \
#     --scratch_n_head 2 --scratch_n_embd 64" NEW_TOKENS=8 bash benchmarks/gpu_check.sh
set -u
cd "$(dirname "$0")/.."
OUT=${OUT:-.gpu/out}
mkdir -p "$OUT"
LOG=$OUT/gpu_check.log
exec > >(tee -a "$LOG") 2>&1
export PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 TOKENIZERS_PARALLELISM=false TQDM_DISABLE=1 \
  HF_DATASETS_DISABLE_PROGRESS_BARS=1
ACCEL_CONFIG=${ACCEL_CONFIG:-recipes/accelerate_configs/multi_gpu.yaml}
STEPS_A=${STEPS_A:-100}
STEPS_B=${STEPS_B:-60}
STEPS_FP32=${STEPS_FP32:-20}
NEW_TOKENS=${NEW_TOKENS:-200}
SCRATCH=${SCRATCH:-}
DATASET=${DATASET:-.gpu/dataset}
RUNS=${RUNS:-/tmp/gpu_check}
PY=${PY:-python3}

stage() { echo; echo "=== $(date -u +%H:%M:%S) $*"; }

stage "environment"
if ls .whl/*.whl >/dev/null 2>&1 && ! "$PY" -c "import trl, datasets, orjson" 2>/dev/null; then
  "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl \
    && export PYTHONPATH=/tmp/site || { echo "wheel install failed"; exit 1; }
fi
export PYTHONPATH=$PWD/toolkit${PYTHONPATH:+:$PYTHONPATH}
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>/dev/null || echo "no nvidia-smi"
"$PY" - <<'EOF'
import platform, importlib
print("python", platform.python_version())
for name in ("torch", "transformers", "trl", "datasets", "accelerate", "huggingface_hub", "tokenizers", "pyarrow",
             "fsspec", "peft"):
    try:
        module = importlib.import_module(name)
        print(f"{name} {module.__version__}")
    except Exception as error:
        print(f"{name} MISSING ({type(error).__name__}: {error})")
import torch
print("cuda", torch.cuda.is_available(), torch.cuda.get_device_name(0) if torch.cuda.is_available() else "")
for name in ("trl.trainer.sft_trainer", "miniastrolm.train", "miniastrolm.explain"):
    try:
        importlib.import_module(name)
        print("import", name, "ok")
    except Exception as error:
        print("import", name, "FAILED", type(error).__name__, error)
EOF
rm -rf "$RUNS"
mkdir -p "$RUNS"

# GPU memory as the driver sees it (context included), sampled every 200 ms during the stages below
if command -v nvidia-smi >/dev/null; then
  nvidia-smi --query-gpu=timestamp,memory.used,utilization.gpu --format=csv,noheader -lms 200 > "$OUT/nvsmi.csv" &
  SMI=$!
fi

COMMON=(--config recipes/student/gpt2-sft.yaml --init_from_scratch true $SCRATCH --dataset_name "$DATASET" --disable_tqdm true)

stage "1a. accelerate launch -m miniastrolm.train (as shipped), bf16, $STEPS_A steps"
start=$SECONDS
timeout 170 "$PY" -m accelerate.commands.launch --config_file "$ACCEL_CONFIG" --num_processes 1 -m miniastrolm.train "${COMMON[@]}" \
  --output_dir "$RUNS/student" --max_steps "$STEPS_A" --eval_steps $((STEPS_A / 2)) --save_steps $((STEPS_A / 2)) \
  --logging_steps 10 --bf16 true
echo "1a exit $? wall $((SECONDS - start)) s"
"$PY" - "$RUNS/student" <<'EOF'
import json, sys, pathlib
folder = pathlib.Path(sys.argv[1])
state = json.loads((folder / "trainer_state.json").read_text())
logs = state["log_history"]
final = [entry for entry in logs if "train_runtime" in entry]
tokens = max((entry.get("num_tokens", 0) for entry in logs), default=0)
print("1a log_history:", json.dumps(logs[-6:]))
if final:
    runtime = final[-1]["train_runtime"]
    print(f"1a figures: steps {state['global_step']}, train_runtime {runtime:.1f} s (eval + 2 checkpoints included), "
          f"tokens {tokens:.0f}, end-to-end {tokens / runtime:.0f} train tok/s, best {state.get('best_metric')}")
print("1a folder:", sorted(p.name for p in folder.iterdir()))
EOF

stage "2. inference on the trained student"
timeout 100 "$PY" benchmarks/gpu_explain.py "$RUNS/student" --new-tokens "$NEW_TOKENS" --json "$OUT/explain.json"
echo "2 exit $?"

stage "1b. accelerate launch benchmarks/gpu_train.py (same main, step clock), bf16, $STEPS_B steps"
GPU_TRAIN_CLOCK=$OUT/train_bf16.json timeout 80 "$PY" -m accelerate.commands.launch --config_file "$ACCEL_CONFIG" --num_processes 1 \
  benchmarks/gpu_train.py "${COMMON[@]}" --output_dir "$RUNS/bf16" --max_steps "$STEPS_B" --logging_steps 1 \
  --eval_strategy no --save_strategy no --load_best_model_at_end false --bf16 true
echo "1b exit $?"

stage "1c. the same in fp32 (bf16 false), $STEPS_FP32 steps"
GPU_TRAIN_CLOCK=$OUT/train_fp32.json timeout 60 "$PY" -m accelerate.commands.launch --config_file "$ACCEL_CONFIG" --num_processes 1 \
  --mixed_precision no benchmarks/gpu_train.py "${COMMON[@]}" --output_dir "$RUNS/fp32" --max_steps "$STEPS_FP32" \
  --logging_steps 1 --eval_strategy no --save_strategy no --load_best_model_at_end false --bf16 false
echo "1c exit $?"

if [ -n "${SMI:-}" ]; then
  kill "$SMI" 2>/dev/null
  awk -F', ' '{gsub(/ MiB/, "", $2); if ($2 + 0 > peak) peak = $2 + 0} END {print "nvidia-smi peak memory.used:", peak, "MiB"}' \
    "$OUT/nvsmi.csv"
fi
stage "done"
