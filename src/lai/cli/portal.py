"""Commands of the benchmark portal: serve, portal user/release/phase/audit."""
