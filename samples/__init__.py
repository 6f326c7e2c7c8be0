"""Demo inputs and the stand-ins for systems the gateway cannot reach from a developer machine."""
