"""Identifiers of market entities and people: normalise, validate, explain in Chinese, mask.

One small module per identifier, in the style of python-stdnum (``compact``/``validate``/``is_valid``
plus ``reason``): :mod:`~gateway.ids.uscc` 统一社会信用代码, :mod:`~gateway.ids.orgcode` 组织机构代码,
:mod:`~gateway.ids.regno` 工商注册号, :mod:`~gateway.ids.resident_id` 居民身份证号码.
:mod:`~gateway.ids.columns` runs the same checks over whole Arrow columns for the validator, and
:mod:`~gateway.ids.cli` lets an engineer check codes from a shell. Nothing here imports the rest of
the gateway, so the hub and the mapping layer can use it freely.
"""
