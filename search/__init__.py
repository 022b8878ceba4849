"""Search: tasks (problems, steps, verifiers), policies (model backends), algorithms, explorer."""
