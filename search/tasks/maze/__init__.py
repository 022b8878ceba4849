"""Grid mazes (shortest path from S to G, Searchformer's setting): the task, its settings, grid
distances and checks, the seeded generator, maze files, steps and prompts."""
