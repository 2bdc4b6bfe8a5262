"""The replication chapter of `minide demo`, registered with minide.demo.chapter."""
