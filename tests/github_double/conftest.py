from tests.github_double.fixtures import github_double_fixture  # noqa: F401  (the `github_double` fixture)
