"""The `gym` task: any reasoning-gym procedural dataset (mazes, n-queens, Tower of Hanoi, ...) as problems
of a free-text-steps task valued by rollouts, each final answer scored by the dataset's own `score_answer`."""
