"""The CDP engine: everything the product does, with no user interface.

The app (pages/) and the `cdp` command are thin views over these modules.
Nothing under engine/ imports streamlit.
"""
