"""The interface every inference method implements (`base`); the methods themselves are the
modules `bnnlab.vi`, `.map_estimate`, `.dropout`, `.ensemble` and `.hmc`, each ending with its
`SPEC`, and `bnnlab.registry.METHODS` lists them. See docs/ADDING_A_METHOD.md."""
