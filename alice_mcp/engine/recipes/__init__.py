"""Recipes: one per fal endpoint alice-mcp runs. A recipe knows its endpoint (id, price, output), how it plans a job
from a request (settings, media plan, cost, cache key), the payload fal takes, how a finished job's output becomes
the user's file, and the result a face renders. The job machinery runs every recipe's jobs the same way.

Adding a model is its parameter model plus one entry in :mod:`alice_mcp.engine.recipes.registry` (plus its
endpoint in the fal twin, and its tests).
"""
