pytest_plugins = ["tests.github_double.fixtures"]
