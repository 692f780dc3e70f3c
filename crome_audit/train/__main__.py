"""``python -m crome_audit.train --config RECIPE [--out DIR] [--set k=v]``: the ``crome-audit train`` command,
runnable as a module so ``accelerate launch -m crome_audit.train ...`` works (DDP / FSDP / DeepSpeed)."""

from ..cli.train_cmd import train

if __name__ == "__main__":
    train(prog_name="python -m crome_audit.train")
