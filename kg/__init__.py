"""licence-kg: a compliance knowledge graph of Chinese value-added telecom licences."""

from kg.errors import KgError, NotACertificateError
from kg.models import PARSER_VERSION, Certificate

__all__ = ["PARSER_VERSION", "Certificate", "KgError", "NotACertificateError"]
__version__ = "0.1.0"
