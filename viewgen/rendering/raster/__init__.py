"""The rasterizer's internals: the plain reference rasterizer, the fast path tested bit-exact
against it (triangle table, visibility pass, span enumeration), and the :class:`Fragments` record
handed to shading. Public entry points are re-exported by :mod:`viewgen.rendering`."""
