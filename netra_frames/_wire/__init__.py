"""The wire: what one request is, and how its answer is read. Pure functions of bytes and specs.

From the top down (imports only point down, see ``docs/architecture.md``):

* :mod:`.convert` -- frames to a backend (pandas or Polars), ids given as a frame or Series;
* :mod:`.decode` -- pages to typed columns (:class:`~.decode.DecodedPage`, ``finish``);
* :mod:`.bulk` -- many kept page bodies parsed in one ``pyarrow.json`` call;
* :mod:`.items` -- the columns of a page's items, typed item by item;
* :mod:`.pages` -- one page's envelope, and the one walk from page to page;
* :mod:`.usage` -- the data object of a usage answer and its typed fields;
* :mod:`.request` -- the HTTP request value the transport sends;
* :mod:`.reply` -- the reply value, its status to an exception class (``error_from_reply``),
  and the key scrubbed from whatever the server sends back (``Redactor``).
"""
