// labelfab labeling page: media objects that play together, Label Studio's `sync` attribute
// (its editor's web/libs/editor/src/mixins/Syncable.ts, SyncManager). <Video sync="audio"> with
// <Audio sync="video"> (the audio plays the video's sound, the video is muted and follows), and
// <Paragraphs sync="audio" audioUrl="$audio"> with <Audio sync="text"> (a paragraph's play button
// plays its part of the audio). Objects whose `sync` names each other, or the same name, form one
// group; what one member does (play, pause, seek, speed) the others do, with its time, whether it
// plays and its speed. On play every member but an audio is muted (an audio is the one that
// sounds; without one in the group, the member that started does), as in Label Studio.
// A member's own events caused by following another are its echoes: Label Studio drops every
// other member's events for 100 ms after one (SYNC_WINDOW); here each change made to a follower
// is remembered (played, paused, sought to a time, set to a speed) and the event that reports it
// is not sent on, so a person's next action is never lost.
// Members are media elements: the audio's (wavesurfer plays it), the <video>, a Paragraphs' own
// hidden <audio> (annotate_dialogue.js). So the existing keys of each widget drive the group.
// Methods of annotate.js's Workspace class; see annotate_base.js for how a part joins the class.
(() => {
  "use strict";
  const A = window.labelfabAnno;
  const SAME_TIME = 0.001; // s: a member already there is not sought again
  const EVENTS = { play: "play", pause: "pause", seeking: "seek", ratechange: "speed" };
  // whether a media event reports the change `echo` remembers (and forgets it)
  const ECHOES = {
    play: (echo) => { const was = echo.play; echo.play = false; return was; },
    pause: (echo) => { const was = echo.pause; echo.pause = false; return was; },
    // a seek that reports another time was superseded before its event came (a person sought
    // again): the remembered one is forgotten either way, or it would swallow a later seek there
    seeking: (echo, media) => {
      const was = echo.seekTo !== null && Math.abs(media.currentTime - echo.seekTo) <= SAME_TIME;
      echo.seekTo = null;
      return was;
    },
    ratechange: (echo, media) => { const was = echo.rate === media.playbackRate; echo.rate = null; return was; },
  };

  class SyncGroup {
    constructor() {
      this.members = new Map(); // object name -> member
      this.audioTags = 0;
    }

    register(member) {
      this.members.set(member.name, member);
      if (member.type === "audio") this.audioTags += 1;
    }

    // Sends `data` ({time, playing, speed}) of `event` from member `origin` to the others.
    sync(data, event, origin) {
      for (const member of this.members.values()) {
        if (member.name !== origin) receive(member, data, event);
      }
    }
  }

  // A follower does what another member did; each change it makes is remembered as an echo to come.
  function receive(member, data, event) {
    const media = member.media;
    const echo = member.echo;
    if (event === "play") media.muted = member.type !== "audio";
    if (event !== "speed" && Number.isFinite(data.time) && Math.abs(media.currentTime - data.time) > SAME_TIME) {
      echo.seekTo = data.time;
      media.addEventListener("seeked", () => member.after("seek"), { once: true });
      media.currentTime = data.time;
    }
    if (event !== "speed" && data.playing && media.paused) {
      echo.play = true;
      media.play().catch(() => { echo.play = false; }); // refused: it stays paused, and no play event comes
    } else if (event !== "speed" && data.playing === false && !media.paused) {
      echo.pause = true;
      media.pause();
    }
    if (data.speed && media.playbackRate !== data.speed) {
      echo.rate = data.speed;
      media.playbackRate = data.speed;
    }
    member.after(event);
  }

  A.part(class SyncPart {
    // Makes `media` (the element that plays `obj`) a member of the group its object's `sync`
    // names, if any; `type` is Label Studio's ("audio", "video", "paragraphs"); `after(event)`
    // runs when the member has followed another (its widget redraws). Returns the group or null.
    syncJoin(obj, type, media, after) {
      const spec = (this.schema.objects || {})[obj.name] || {};
      if (!spec.sync) return null;
      if (!this.syncGroups) this.syncGroups = new Map();
      // Label Studio's SyncManagerFactory.get(sync, name): the group named by `sync`, else the one
      // an earlier member created under this object's name (two objects naming each other)
      let group = this.syncGroups.get(spec.sync) || this.syncGroups.get(obj.name);
      if (!group) {
        group = new SyncGroup();
        this.syncGroups.set(spec.sync, group);
      }
      const member = { name: obj.name, type, media, after: after || (() => {}),
        echo: { play: false, pause: false, seekTo: null, rate: null } };
      group.register(member);
      for (const [domEvent, event] of Object.entries(EVENTS)) {
        media.addEventListener(domEvent, () => {
          if (ECHOES[domEvent](member.echo, media)) return;
          const data = { playing: !media.paused, time: media.currentTime, speed: media.playbackRate };
          if (event === "play") media.muted = type !== "audio" && group.audioTags > 0;
          group.sync(data, event, obj.name);
        });
      }
      obj.syncGroup = group;
      return group;
    }

    // A new task's objects start new groups (annotate_objects.js teardownObjects); the old
    // members stop playing.
    syncTeardown() {
      for (const group of (this.syncGroups || new Map()).values()) {
        for (const member of group.members.values()) if (!member.media.paused) member.media.pause();
      }
      this.syncGroups = new Map();
    }
  });
})();
