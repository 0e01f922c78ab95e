"""alice-mcp: add generated, synchronized audio to video through fal.ai's MMAudio V2, as an MCP server, a CLI and a
Python API. Importing the package is cheap: heavy modules load when first used."""

__version__ = "0.1.0"
