"""The training machinery that train (the teacher) and distill (the students) share: the resumable epoch loop,
training-state checkpoints, data parallelism and mixed precision. Part of the core: no stage owns it."""
