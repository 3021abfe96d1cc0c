"""The staff dashboard (signed-in pages) and the webhooks Twilio calls while staff call back."""
from .calls import bp as calls_bp
from .pages import bp

__all__ = ["bp", "calls_bp"]
