"""Sudoku (4x4, 6x6 with 2x3 boxes, 9x9): the task, its settings, grid rules, depth-first solver,
generator (reasoning-gym's for 4x4 and 9x9, its own for 6x6), problem files, steps and prompts."""
