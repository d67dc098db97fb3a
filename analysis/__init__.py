"""Analysis: pure functions over plain data (brands, language, sentiment, topics, spikes, threads)."""
