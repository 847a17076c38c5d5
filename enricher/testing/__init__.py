"""Tools for testing an enricher deployment without spending money.

``simulator`` is a loopback provider that speaks the OpenAI and Anthropic wire
formats (``enricher simulate-provider``). Host applications may import from here in
their own tests; the product never does.
"""
