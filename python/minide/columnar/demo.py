"""The columnar chapter of `minide demo`, registered with minide.demo.chapter."""
