"""licence-kg: a compliance knowledge graph of Chinese value-added telecom licences."""

from kg.errors import KgError, NotACertificateError
from kg.models import PARSER_VERSION, Certificate
from kg.parser import parse_bytes, parse_file, parse_text

__all__ = ["PARSER_VERSION", "Certificate", "KgError", "NotACertificateError", "parse_bytes", "parse_file", "parse_text"]
__version__ = "0.1.0"
