"""Commands of benchmark releases and public layouts: release, dataset import."""
