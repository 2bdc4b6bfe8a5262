"""The kv chapter of `minide demo`, registered with minide.demo.chapter."""
