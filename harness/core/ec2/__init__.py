"""The emulated EC2, laid out by resource as AWS lays it out.

:mod:`.actions` is the one action layer every door calls: each EC2 action is a pure function
of (state, caller, request) to (state, answer), requests and answers in an SDK's shape.
"""
