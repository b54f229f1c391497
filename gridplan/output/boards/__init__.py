"""Printed grid notice boards (网格公示牌): a page per grid, community covers, an atlas PDF."""

from __future__ import annotations

from gridplan.output.boards.content import Board, board_contents, duty_phones
from gridplan.output.boards.write import write_boards

__all__ = ["Board", "board_contents", "duty_phones", "write_boards"]
