"""Double-random draws (双随机、一公开): objects drawn at random by risk class, inspectors drawn with
conflicts removed first, every draw reproducible from its signed record."""
