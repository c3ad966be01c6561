"""Built-in synthetic SoccerNet-format data: simulated matches rendered as broadcast video.

Players and the ball are simulated in world metres (pitch 105 x 68, x along the touchlines,
y across, z up; the broadcast camera stands beside the near touchline at y < 0). The ball moves
in a possession chain: the holder dribbles, then either passes (the ball leaves his feet fast
towards a teammate, who or an opponent receives it) or drives (a touch that pushes the ball a few
metres ahead, then he catches up). An event sits on the frame of foot contact: the ball is at the
kicker's feet on that frame and moves with the new velocity from the next one. Nothing but the
ball's motion tells an event apart: receptions, dribbling, running players and the panning,
zooming camera go on all the time. A pinhole camera renders each frame with OpenCV, then blur,
sensor noise and a real codec (:class:`ballspot.data.encoder.VideoWriter`) finish the broadcast
look.

The action variant plays set pieces (kick-off, throw-in, corner, goal kick), shots, clearances,
goals and balls out of play, labelled in the SoccerNet-v2 schema. Every random choice comes from a
numpy Generator seeded by a SHA-256 of (seed, game, half, purpose): the same params give
byte-identical files.
"""

from ballspot.data.synthetic.config import (
    ACTION_CLASSES,
    BALL_CLASSES,
    SyntheticConfig,
)
from ballspot.data.synthetic.dataset import (
    _write_video,
    generate_action_dataset,
    generate_ball_dataset,
    render_video,
)
from ballspot.data.synthetic.render import (
    Scene,
    ball_pixel,
    make_scene,
    render_frame,
    render_frames,
)
from ballspot.data.synthetic.simulation import simulate_half
from ballspot.data.synthetic.track import Event, Track

__all__ = ["ACTION_CLASSES", "BALL_CLASSES", "Event", "Scene", "SyntheticConfig", "Track",
           "_write_video", "ball_pixel", "generate_action_dataset", "generate_ball_dataset",
           "make_scene", "render_frame", "render_frames", "render_video", "simulate_half"]
