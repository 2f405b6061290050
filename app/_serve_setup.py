"""Run by ``panel serve --setup`` before the server starts: warm the demo.

The frog network takes a few seconds to build; building it here means the
first visitor's page opens as fast as the later ones.
"""

from app.explorer import demo_inputs, demo_network

demo_inputs()
demo_network(3.0)
