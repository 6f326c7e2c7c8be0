"""Credit risk classes (信用风险分类, A 低 / B 一般 / C 较高 / D 高), computed monthly from a model in
configuration (gateway/credit/config/risk_model.yaml). Internal only: see gateway.credit."""
