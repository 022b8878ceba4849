"""Countdown (Stream of Search, Gandhi et al. 2024; TinyZero rules): the task, its settings,
problem generator and files, exact solver, step parser, prompts and answer frame."""
