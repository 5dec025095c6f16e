"""The end of a script that several processes run (``accelerate launch``, ``torchrun``)."""

import torch.distributed as dist


def finish_processes() -> None:
    """Every process waits for the others, then leaves the default process group.

    Call it last in a script that ``accelerate launch`` starts with several processes (the
    ``latentinfer`` command does so after a command that succeeded). A process that exits
    while its peers still hold their gloo connections can abort at interpreter shutdown
    (``SIGABRT``), and the launcher then kills the others. Does nothing in one process or
    when no process group was set up; call it only on success, since a process that failed
    would wait here for peers that never arrive. If a peer died before reaching it, the
    barrier raises (gloo's error or timeout) instead of returning.
    """
    if dist.is_available() and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()
